-- Security master plus a synthetic CASH security (when the master has none) with the as-of close.

with

securities as (

    select * from {{ ref('stg_canonical__security_master') }}

),

prices as (

    select * from {{ ref('stg_canonical__prices') }}

),

-- one close per security: the latest price_date on or before the as-of date (a file should hold one)
latest_prices as (

    select
        security_id,
        close_price,
        price_date,

    from prices
    where price_date <= {{ var_as_of_date() }}
    qualify row_number() over (
        partition by security_id
        order by price_date desc, source_line desc
    ) = 1

),

-- CASH is the positions/models sentinel for USD; it is not necessarily in the security master
cash_security as (

    select
        'CASH' as security_id,
        'CASH' as ticker,
        cast(null as varchar) as cusip,
        'CASH' as identical_group,
        'Cash (USD), synthetic row: CASH is a sentinel, not a security master entry' as description,
        'cash' as security_type,
        'cash' as asset_class,
        cast(null as varchar) as gics_sector,
        cast(null as varchar) as gics_industry,

    where not exists (select 1 from securities where security_id = 'CASH')

),

all_securities as (

    select
        security_id,
        ticker,
        cusip,
        identical_group,
        description,
        security_type,
        asset_class,
        gics_sector,
        gics_industry,

    from securities

    union all

    select * from cash_security

),

final as (

    select
        all_securities.*,
        case
            when all_securities.security_id = 'CASH' then coalesce(latest_prices.close_price, 1.0)
            else latest_prices.close_price
        end as price,
        case
            when all_securities.security_id = 'CASH'
                then coalesce(latest_prices.price_date, {{ var_as_of_date() }})
            else latest_prices.price_date
        end as price_date,

    from all_securities
    left join latest_prices
        on all_securities.security_id = latest_prices.security_id

)

select * from final
