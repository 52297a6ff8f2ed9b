-- One row per household from the account master, whose household fields repeat on every account.
-- When accounts disagree, the lowest account_id wins and the household is flagged (readiness holds it).

with

accounts as (

    select * from {{ ref('stg_canonical__accounts') }}

),

final as (

    select
        ---------- ids
        household_id,
        arg_min(model_id, account_id) as model_id,

        ---------- household fields
        arg_min(filing_status, account_id) as filing_status,
        arg_min(state, account_id) as state,
        arg_min(ordinary_income, account_id) as ordinary_income,
        arg_min(advisory_fee_bps, account_id) as advisory_fee_bps,
        arg_min(annual_tax_budget, account_id) as annual_tax_budget,
        arg_min(risk_aversion, account_id) as risk_aversion,
        arg_min(tax_weight, account_id) as tax_weight,
        arg_min(trading_cost_bps, account_id) as trading_cost_bps,
        arg_min(tracking_error_cap, account_id) as tracking_error_cap,
        arg_min(harvest_threshold_start, account_id) as harvest_threshold_start,
        arg_min(harvest_threshold_end, account_id) as harvest_threshold_end,

        ---------- counts and flags
        count(distinct account_id) as account_count,
        count(distinct concat_ws(
            '|',
            coalesce(model_id, '<null>'),
            coalesce(filing_status, '<null>'),
            coalesce(state, '<null>'),
            coalesce(cast(ordinary_income as varchar), '<null>'),
            coalesce(cast(advisory_fee_bps as varchar), '<null>'),
            coalesce(cast(annual_tax_budget as varchar), '<null>')
        )) > 1 as has_conflicting_household_fields,

    from accounts
    group by household_id

)

select * from final
