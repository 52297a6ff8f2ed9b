with

source as (

    select * from {{ source('taxlots', 'engine_lot_basis') }}

),

final as (

    select

        ---------- ids
        account_id,
        lot_id,

        ---------- engine vs custodian
        engine_cost_basis,
        engine_wash_sale_adjustment,
        engine_adjusted_acquired_date,
        basis_difference,
        basis_difference_reason,

    from source
    where as_of_date = {{ var_as_of_date() }}

)

select * from final
