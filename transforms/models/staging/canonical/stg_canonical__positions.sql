with

source as (

    select * from {{ source('raw', 'positions') }}

),

final as (

    select

        ---------- ids
        account_id,
        security_id,

        ---------- numerics
        quantity,

        ---------- lineage
        as_of_date,
        source_file,
        source_line,
        file_sha256,

    from source
    where as_of_date = {{ var_as_of_date() }}

)

select * from final
