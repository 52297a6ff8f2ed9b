with

accounts as (

    select * from {{ ref('stg_canonical__accounts') }}

),

final as (

    select
        ---------- ids
        cast(account_id as varchar) as account_id,
        cast(household_id as varchar) as household_id,

        ---------- attributes
        cast(owner_role as varchar) as owner_role,
        cast(registration as varchar) as registration,
        cast(taxable as boolean) as taxable,
        cast(custodian as varchar) as custodian,
        cast(fractional_allowed as boolean) as fractional_allowed,
        cast(model_id as varchar) as model_id,

    from accounts

)

select * from final
