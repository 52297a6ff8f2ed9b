with

requests as (

    select * from {{ ref('stg_canonical__requests') }}

),

final as (

    select
        cast(request_id as varchar) as request_id,
        cast(household_id as varchar) as household_id,
        cast(account_id as varchar) as account_id,
        cast(request_type as varchar) as request_type,
        cast(amount as double) as amount,

    from requests

)

select * from final
