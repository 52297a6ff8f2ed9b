-- Every wash-sale window the household's transactions open (household-wide: all accounts of the
-- household, IRAs included; 30 calendar days after the trade, window_end inclusive). Not yet
-- filtered to the as-of date: fct_wash_sale_windows keeps the open ones.
--   no_buy:        a sell at a loss blocks buying the identical group (the sale's loss would be washed).
--   no_loss_sale:  a buy / reinvest blocks selling OTHER lots of the group at a loss; the lot the
--                  purchase created is exempt (not a wash sale against its own purchase).

with

transactions as (

    select * from {{ ref('stg_canonical__transactions') }}

),

accounts as (

    select * from {{ ref('stg_canonical__accounts') }}

),

securities as (

    select * from {{ ref('int_securities__priced') }}

),

household_trades as (

    select
        transactions.transaction_id,
        transactions.account_id,
        accounts.household_id,
        transactions.lot_id,
        transactions.transaction_type,
        transactions.realized_gain,
        transactions.trade_date,
        -- a security missing from the master is its own group
        coalesce(securities.identical_group, transactions.security_id) as identical_group,

    from transactions
    inner join accounts
        on transactions.account_id = accounts.account_id
    left join securities
        on transactions.security_id = securities.security_id
    where transactions.security_id is not null
        and transactions.security_id <> 'CASH'

),

no_buy_windows as (

    select
        household_id,
        identical_group,
        'no_buy' as window_type,
        trade_date as window_start,
        cast(trade_date + interval 30 day as date) as window_end,
        transaction_id as source_transaction_id,
        account_id as source_account_id,
        cast(null as varchar) as exempt_lot_id,

    from household_trades
    where transaction_type = 'sell'
        and realized_gain < 0

),

no_loss_sale_windows as (

    select
        household_id,
        identical_group,
        'no_loss_sale' as window_type,
        trade_date as window_start,
        cast(trade_date + interval 30 day as date) as window_end,
        transaction_id as source_transaction_id,
        account_id as source_account_id,
        lot_id as exempt_lot_id,

    from household_trades
    where transaction_type in ('buy', 'reinvest')

),

final as (

    select * from no_buy_windows
    union all
    select * from no_loss_sale_windows

)

select * from final
