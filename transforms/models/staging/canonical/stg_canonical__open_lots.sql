with

source as (

    select * from {{ source('raw', 'open_lots') }}

),

final as (

    select

        ---------- ids
        lot_id,
        account_id,
        security_id,

        ---------- numerics
        quantity,
        cost_basis,
        wash_sale_adjustment,

        ---------- booleans
        covered,

        ---------- dates
        acquired_date,
        adjusted_acquired_date,

        ---------- lineage
        as_of_date,
        source_file,
        source_line,
        file_sha256,

    from source
    where as_of_date = {{ var_as_of_date() }}

)

select * from final
