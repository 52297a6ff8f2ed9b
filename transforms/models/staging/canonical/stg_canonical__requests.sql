with

source as (

    select * from {{ source('raw', 'requests') }}

),

final as (

    select

        ---------- ids
        request_id,
        household_id,
        account_id,

        ---------- text
        request_type,

        ---------- numerics
        amount,

        ---------- lineage
        as_of_date,
        source_file,
        source_line,
        file_sha256,

    from source
    where as_of_date = {{ var_as_of_date() }}

)

select * from final
