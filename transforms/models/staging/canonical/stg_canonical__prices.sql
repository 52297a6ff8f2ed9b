with

source as (

    select * from {{ source('raw', 'prices') }}

),

final as (

    select

        ---------- ids
        security_id,

        ---------- numerics
        close as close_price,

        ---------- dates
        price_date,

        ---------- lineage
        as_of_date,
        source_file,
        source_line,
        file_sha256,

    from source
    where as_of_date = {{ var_as_of_date() }}

)

select * from final
