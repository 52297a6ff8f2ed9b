-- Sell-side restrictions per account and security: never_sell_security (the lots stay, whatever the
-- drift) and never_hold_security (sell every lot today; fct_buy_restrictions also stops buying it).
-- One row per account x security x restriction type.

with

restrictions as (

    select * from {{ ref('stg_canonical__restrictions') }}

),

accounts as (

    select * from {{ ref('stg_canonical__accounts') }}

),

final as (

    select distinct
        cast(restrictions.account_id as varchar) as account_id,
        cast(accounts.household_id as varchar) as household_id,
        cast(restrictions.restriction_value as varchar) as security_id,
        cast(restrictions.restriction_type as varchar) as restriction_type,

    from restrictions
    left join accounts
        on restrictions.account_id = accounts.account_id
    where restrictions.restriction_type in ('never_sell_security', 'never_hold_security')

)

select * from final
