with

source as (

    select * from {{ source('raw', 'restrictions') }}

),

final as (

    select

        ---------- ids
        account_id,

        ---------- text
        restriction_type,
        value as restriction_value,

        ---------- lineage
        as_of_date,
        source_file,
        source_line,
        file_sha256,

    from source
    where as_of_date = {{ var_as_of_date() }}

)

select * from final
