{#-
    Ingestion (custodian/load.py) adds a scope column to raw.quarantine. Rows scoped
    'unknown_account' (a row of an account in no accounts file: no household owns it) and 'stray'
    (a delivered file that is not one of the day's files: wrong date in its name, unknown kind) stay
    in raw.quarantine and the quarantine folder for the operator, but hold no household.
    A raw.quarantine without the column (older warehouses, hand-built test tables) is read whole.
-#}
{%- set quarantine_source = source('raw', 'quarantine') -%}
{%- set source_columns = adapter.get_columns_in_relation(quarantine_source) | map(attribute='name') | map('lower') | list -%}

with

source as (

    select * from {{ quarantine_source }}

),

final as (

    select

        ---------- ids
        account_id,

        ---------- text
        field as field_name,
        value as field_value,
        error as error_message,
        raw_line,

        ---------- lineage
        as_of_date,
        source_file,
        source_line,

    from source
    where as_of_date = {{ var_as_of_date() }}
    {%- if 'scope' in source_columns %}
        and coalesce(scope, 'line') not in ('unknown_account', 'stray')
    {%- endif %}

)

select * from final
