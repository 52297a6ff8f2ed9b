{#-
    The as-of date every model filters to, as a SQL date literal.

    `as_of_date` must be passed on the command line (--vars '{as_of_date: 2026-11-20}'); the
    placeholder default in dbt_project.yml only lets `dbt parse` work, so a run or build that forgot
    the var fails here instead of silently building empty marts.
-#}
{% macro var_as_of_date() -%}
    {%- set as_of = var('as_of_date') | string -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', as_of) -%}
        {{ exceptions.raise_compiler_error("var as_of_date must be YYYY-MM-DD, got '" ~ as_of ~ "'") }}
    {%- endif -%}
    {%- if execute and as_of == '1900-01-01' and flags.WHICH in ('run', 'build') -%}
        {{ exceptions.raise_compiler_error("pass --vars '{as_of_date: YYYY-MM-DD}' to dbt " ~ flags.WHICH) }}
    {%- endif -%}
    cast('{{ as_of }}' as date)
{%- endmacro %}
