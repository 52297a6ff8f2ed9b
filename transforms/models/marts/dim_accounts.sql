with

accounts as (

    select * from {{ ref('stg_canonical__accounts') }}

),

custodian_numbers as (

    select * from {{ ref('int_accounts__custodian_numbers') }}

),

final as (

    select
        ---------- ids
        cast(accounts.account_id as varchar) as account_id,
        cast(accounts.household_id as varchar) as household_id,

        ---------- attributes
        cast(accounts.owner_role as varchar) as owner_role,
        cast(accounts.registration as varchar) as registration,
        cast(accounts.taxable as boolean) as taxable,
        cast(accounts.custodian as varchar) as custodian,
        cast(accounts.fractional_allowed as boolean) as fractional_allowed,
        cast(accounts.model_id as varchar) as model_id,
        -- the custodian's own number (from its account master); null when it delivers the canonical layout
        cast(custodian_numbers.custodian_account_number as varchar) as custodian_account_number,

        ---------- account instructions
        cast(accounts.cash_minimum as double) as cash_minimum,
        cast(accounts.trading_locked as boolean) as trading_locked,
        cast(accounts.preferred_asset_classes as varchar) as preferred_asset_classes,

    from accounts
    left join custodian_numbers
        on accounts.account_id = custodian_numbers.account_id
        and accounts.custodian = custodian_numbers.custodian

)

select * from final
