-- Cash per account: the sum of its CASH positions (USD), 0 when the account has none.

with

accounts as (

    select * from {{ ref('stg_canonical__accounts') }}

),

positions as (

    select * from {{ ref('stg_canonical__positions') }}

),

cash_positions as (

    select
        account_id,
        {{ exact_sum('quantity') }} as cash,

    from positions
    where security_id = 'CASH'
    group by account_id

),

final as (

    select
        cast(accounts.account_id as varchar) as account_id,
        cast(accounts.household_id as varchar) as household_id,
        cast(coalesce(cash_positions.cash, 0.0) as double) as cash,

    from accounts
    left join cash_positions
        on accounts.account_id = cash_positions.account_id

)

select * from final
