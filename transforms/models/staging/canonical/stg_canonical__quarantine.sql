with

source as (

    select * from {{ source('raw', 'quarantine') }}

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

)

select * from final
