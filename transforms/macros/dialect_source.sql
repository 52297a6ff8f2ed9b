{#-
    A custodian dialect's raw table (custodian/dialects/load.py creates it on the first ingestion),
    or an empty typed relation where it does not exist yet (a warehouse built by hand, or one that
    never received that custodian's files), so the project builds on either.
    columns: [[name, type], ...] as the staging model reads them.
-#}
{% macro dialect_source(source_name, table_name, columns) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if execute and load_relation(relation) is none -%}
        (select
            {%- for name, type in columns %}
            cast(null as {{ type }}) as {{ name }}{{ ',' if not loop.last }}
            {%- endfor %}
        where false)
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}
