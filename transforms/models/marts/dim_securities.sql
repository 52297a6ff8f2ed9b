with

securities as (

    select * from {{ ref('int_securities__priced') }}

),

final as (

    select
        ---------- ids
        cast(security_id as varchar) as security_id,
        cast(ticker as varchar) as ticker,
        cast(cusip as varchar) as cusip,

        ---------- classification
        cast(description as varchar) as description,
        cast(security_type as varchar) as security_type,
        cast(asset_class as varchar) as asset_class,
        cast(gics_sector as varchar) as gics_sector,
        cast(gics_industry as varchar) as gics_industry,
        cast(identical_group as varchar) as identical_group,

        ---------- price
        cast(price as double) as price,
        cast(price_date as date) as price_date,

    from securities

)

select * from final
