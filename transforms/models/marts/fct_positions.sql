-- Positions (cash excluded) reconciled with the open lots. A full outer join: lots with no
-- position row show quantity 0, positions with no lots show lot_quantity 0; both do not reconcile.

with

positions as (

    select * from {{ ref('stg_canonical__positions') }}

),

lots as (

    select * from {{ ref('fct_lots') }}

),

accounts as (

    select * from {{ ref('stg_canonical__accounts') }}

),

securities as (

    select * from {{ ref('int_securities__priced') }}

),

position_quantities as (

    select
        account_id,
        security_id,
        {{ exact_sum('quantity') }} as quantity,

    from positions
    where security_id <> 'CASH'
    group by account_id, security_id

),

lot_quantities as (

    select
        account_id,
        security_id,
        {{ exact_sum('quantity') }} as lot_quantity,

    from lots
    group by account_id, security_id

),

reconciled as (

    select
        coalesce(position_quantities.account_id, lot_quantities.account_id) as account_id,
        coalesce(position_quantities.security_id, lot_quantities.security_id) as security_id,
        coalesce(position_quantities.quantity, 0.0) as quantity,
        coalesce(lot_quantities.lot_quantity, 0.0) as lot_quantity,

    from position_quantities
    full outer join lot_quantities
        on position_quantities.account_id = lot_quantities.account_id
        and position_quantities.security_id = lot_quantities.security_id

),

final as (

    select
        ---------- ids
        cast(reconciled.account_id as varchar) as account_id,
        cast(accounts.household_id as varchar) as household_id,
        cast(reconciled.security_id as varchar) as security_id,

        ---------- quantities
        cast(reconciled.quantity as double) as quantity,
        cast(reconciled.lot_quantity as double) as lot_quantity,

        ---------- value at the as-of close
        cast(securities.price as double) as price,
        cast(reconciled.quantity * securities.price as double) as market_value,

        ---------- checks
        cast(abs(reconciled.quantity - reconciled.lot_quantity) < 1e-5 as boolean) as reconciles,

    from reconciled
    left join accounts
        on reconciled.account_id = accounts.account_id
    left join securities
        on reconciled.security_id = securities.security_id

)

select * from final
