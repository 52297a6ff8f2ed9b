{#-
    The as-of date every model filters to, as a SQL date literal.

    Pass it as the env var SLEEVELESS_AS_OF_DATE=2026-11-20 (what Dagster does) or as the var
    (--vars '{as_of_date: 2026-11-20}'; it wins over the env var, and unit tests override it).
    The env var is read only while executing (`execute`), never while parsing: dbt then neither
    records it in the manifest nor re-parses anything when the date changes, so the daily run parses
    partially (a changed --vars makes dbt re-parse the whole project). The date only shapes the
    compiled SQL, which dbt renders anew on every run.

    The placeholder default in dbt_project.yml only lets `dbt parse` work: a run or build given no
    date fails here instead of silently building empty marts.
-#}
{% macro var_as_of_date() -%}
    {%- set as_of = var('as_of_date') | string -%}
    {%- if execute and as_of == '1900-01-01' -%}
        {%- set as_of = env_var('SLEEVELESS_AS_OF_DATE', '1900-01-01') -%}
    {%- endif -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', as_of) -%}
        {{ exceptions.raise_compiler_error("as_of_date must be YYYY-MM-DD, got '" ~ as_of ~ "'") }}
    {%- endif -%}
    {%- if execute and as_of == '1900-01-01' and flags.WHICH in ('run', 'build') -%}
        {{ exceptions.raise_compiler_error(
            "give dbt " ~ flags.WHICH ~ " an as_of_date: env var SLEEVELESS_AS_OF_DATE=YYYY-MM-DD"
            ~ " or --vars '{as_of_date: YYYY-MM-DD}'") }}
    {%- endif -%}
    cast('{{ as_of }}' as date)
{%- endmacro %}
