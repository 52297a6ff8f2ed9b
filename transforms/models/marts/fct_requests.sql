with

requests as (

    select * from {{ ref('stg_canonical__requests') }}

),

-- a request id delivered on several days counts once: its latest delivery
latest as (

    select *
    from requests
    qualify row_number() over (partition by request_id order by as_of_date desc, source_line) = 1

),

final as (

    select
        cast(request_id as varchar) as request_id,
        cast(household_id as varchar) as household_id,
        cast(account_id as varchar) as account_id,
        cast(request_type as varchar) as request_type,
        cast(amount as double) as amount,
        cast(
            case
                when request_type <> 'cash_withdrawal' then null
                when account_choice is not null then account_choice
                when account_id is null then 'household'
                else 'named'
            end as varchar
        ) as account_choice,
        cast(eligible_accounts as varchar) as eligible_accounts,
        cast(hold_until as date) as hold_until,
        cast(as_of_date as date) as requested_on,

    from latest

)

select * from final
