-- Whether each household may be optimized on the as-of date. Every hold reason found is listed,
-- '; '-joined in a fixed order; hold_reasons is '' when the household is ready.

with

households as (

    select * from {{ ref('int_accounts__rolled_up_to_households') }}

),

tax_rates as (

    select * from {{ ref('int_households__tax_rates') }}

),

quarantine as (

    select * from {{ ref('int_quarantine__attributed_to_households') }}

),

accounts as (

    select * from {{ ref('stg_canonical__accounts') }}

),

transactions as (

    select * from {{ ref('stg_canonical__transactions') }}

),

securities as (

    select * from {{ ref('dim_securities') }}

),

lots as (

    select * from {{ ref('fct_lots') }}

),

positions as (

    select * from {{ ref('fct_positions') }}

),

targets as (

    select * from {{ ref('fct_household_targets') }}

),

-- every security a household holds, targets or traded this year, with its price when known
household_securities as (

    select household_id, security_id from lots
    union
    select household_id, security_id from positions where quantity <> 0
    union
    select household_id, security_id from targets where target_weight > 0
    union
    select
        accounts.household_id,
        transactions.security_id,
    from transactions
    inner join accounts
        on transactions.account_id = accounts.account_id
    where transactions.security_id is not null

),

held_or_targeted as (

    select household_id, security_id from lots
    union
    select household_id, security_id from positions where quantity <> 0
    union
    select household_id, security_id from targets where target_weight > 0

),

reasons as (

    select distinct
        household_id,
        1 as reason_order,
        'quarantined input rows' as reason,
    from quarantine
    where household_id is not null

    union all

    select
        households.household_id,
        2 as reason_order,
        'quarantined rows not attributable to a household' as reason,
    from households
    where exists (
        select 1 from quarantine where household_id is null and is_account_level
    )

    union all

    select
        household_id,
        3 as reason_order,
        'accounts disagree on household fields' as reason,
    from households
    where has_conflicting_household_fields

    union all

    select distinct
        household_id,
        4 as reason_order,
        'lots do not reconcile with positions' as reason,
    from positions
    where not reconciles

    union all

    select
        households.household_id,
        5 as reason_order,
        'no target model' as reason,
    from households
    where not exists (
        select 1 from targets where targets.household_id = households.household_id
    )

    union all

    select
        household_id,
        6 as reason_order,
        'target weights do not sum to 1' as reason,
    from targets
    group by household_id
    having abs({{ exact_sum('target_weight') }} - 1) >= 1e-6

    union all

    select distinct
        household_securities.household_id,
        7 as reason_order,
        'security not in security master' as reason,
    from household_securities
    left join securities
        on household_securities.security_id = securities.security_id
    where securities.security_id is null

    union all

    select distinct
        held_or_targeted.household_id,
        8 as reason_order,
        'missing price' as reason,
    from held_or_targeted
    inner join securities
        on held_or_targeted.security_id = securities.security_id
    where coalesce(securities.price, 0) <= 0

    union all

    select
        household_id,
        9 as reason_order,
        'no tax rates for filing status or state' as reason,
    from tax_rates
    where st_rate is null or lt_rate is null

),

household_reasons as (

    select
        household_id,
        string_agg(reason, '; ' order by reason_order) as hold_reasons,

    from reasons
    where household_id is not null
    group by household_id

),

final as (

    select
        cast(households.household_id as varchar) as household_id,
        cast(household_reasons.household_id is null as boolean) as is_ready,
        cast(coalesce(household_reasons.hold_reasons, '') as varchar) as hold_reasons,

    from households
    left join household_reasons
        on households.household_id = household_reasons.household_id

)

select * from final
