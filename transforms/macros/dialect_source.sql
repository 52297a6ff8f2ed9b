{#-
    A custodian dialect's raw table (custodian/dialects/load.py creates it on the first ingestion),
    or an empty typed relation where it does not exist yet (a warehouse built by hand, or one that
    never received that custodian's files), so the project builds on either.
    columns: [[name, type], ...] as the staging model reads them.

    Whether the table exists is asked of the warehouse itself (dialect_relation_exists), never of
    dbt's relation cache: with several threads, dbt-core marks a schema as cached when the first of
    its relations is added, so another thread reading the cache while the first one fills it can be
    told that a table is missing. That happened at 10,000 households (2026-12-06, 4 threads): one
    build compiled stg_schwab__accounts from the empty fallback although raw.schwab_accounts held
    9,445 rows, and the Schwab upload files went out with the firm's account ids instead of Schwab's
    account numbers. tests/assert_custodian_account_masters_reach_staging.sql stops the build if a
    delivered account master ever fails to reach staging again.
-#}
{% macro dialect_source(source_name, table_name, columns) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if execute and not dialect_relation_exists(relation) -%}
        (select
            {%- for name, type in columns %}
            cast(null as {{ type }}) as {{ name }}{{ ',' if not loop.last }}
            {%- endfor %}
        where false)
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}


{#- True when the warehouse holds the relation: one query on this thread's own connection. -#}
{% macro dialect_relation_exists(relation) -%}
    {%- set found = run_query(
        "select count(*) from information_schema.tables where table_catalog = '" ~ relation.database
        ~ "' and table_schema = '" ~ relation.schema ~ "' and table_name = '" ~ relation.identifier ~ "'"
    ) -%}
    {{- return(found.columns[0].values()[0] > 0) -}}
{%- endmacro %}
