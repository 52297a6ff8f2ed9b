-- Securities an account must not buy: never_buy_security and never_hold_security rows, plus every
-- security of an excluded GICS sector (sector names compared case- and space-insensitively). One
-- row per account x security; reasons '; '-joined when several apply.

with

restrictions as (

    select * from {{ ref('stg_canonical__restrictions') }}

),

securities as (

    select * from {{ ref('int_securities__priced') }}

),

never_buy as (

    select
        account_id,
        restriction_value as security_id,
        restriction_type as reason,

    from restrictions
    where restriction_type in ('never_buy_security', 'never_hold_security')

),

excluded_sectors as (

    select
        restrictions.account_id,
        securities.security_id,
        'exclude_sector: ' || securities.gics_sector as reason,

    from restrictions
    inner join securities
        on lower(trim(securities.gics_sector)) = lower(trim(restrictions.restriction_value))
    where restrictions.restriction_type = 'exclude_sector'

),

all_restrictions as (

    select * from never_buy
    union all
    select * from excluded_sectors

),

final as (

    select
        cast(account_id as varchar) as account_id,
        cast(security_id as varchar) as security_id,
        cast(string_agg(distinct reason, '; ' order by reason) as varchar) as reason,

    from all_restrictions
    group by account_id, security_id

)

select * from final
