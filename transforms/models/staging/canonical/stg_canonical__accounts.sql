with

source as (

    select * from {{ source('raw', 'accounts') }}

),

final as (

    select

        ---------- ids
        account_id,
        household_id,
        model_id,

        ---------- text
        owner_role,
        registration,
        custodian,
        filing_status,
        state,

        ---------- booleans
        taxable,
        fractional_allowed,

        ---------- numerics
        ordinary_income,
        advisory_fee_bps,
        annual_tax_budget,

        ---------- account instructions (blank: none)
        coalesce(cash_minimum, 0.0) as cash_minimum,
        coalesce(trading_locked, false) as trading_locked,
        nullif(trim(preferred_asset_classes), '') as preferred_asset_classes,

        ---------- household overrides of the optimizer's settings (blank: firm default)
        risk_aversion,
        tax_weight,
        trading_cost_bps,
        tracking_error_cap,
        harvest_threshold_start,
        harvest_threshold_end,

        ---------- lineage
        as_of_date,
        source_file,
        source_line,
        file_sha256,

    from source
    where as_of_date = {{ var_as_of_date() }}

)

select * from final
