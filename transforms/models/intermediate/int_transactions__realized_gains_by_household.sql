-- Realized gains this calendar year (up to the as-of date) from sells in TAXABLE accounts, by
-- holding term. Sells without a holding_term are not counted (the custodian must classify them).

with

transactions as (

    select * from {{ ref('stg_canonical__transactions') }}

),

accounts as (

    select * from {{ ref('stg_canonical__accounts') }}

),

taxable_sells as (

    select
        accounts.household_id,
        transactions.holding_term,
        transactions.realized_gain,

    from transactions
    inner join accounts
        on transactions.account_id = accounts.account_id
    where transactions.transaction_type = 'sell'
        and accounts.taxable
        and year(transactions.trade_date) = year({{ var_as_of_date() }})
        and transactions.trade_date <= {{ var_as_of_date() }}

),

final as (

    select
        household_id,
        coalesce({{ exact_sum('realized_gain', where="holding_term = 'short'") }}, 0.0) as realized_st_gain_ytd,
        coalesce({{ exact_sum('realized_gain', where="holding_term = 'long'") }}, 0.0) as realized_lt_gain_ytd,

    from taxable_sells
    group by household_id

)

select * from final
