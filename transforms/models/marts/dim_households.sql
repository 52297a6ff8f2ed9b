with

households as (

    select * from {{ ref('int_accounts__rolled_up_to_households') }}

),

tax_rates as (

    select * from {{ ref('int_households__tax_rates') }}

),

realized_gains as (

    select * from {{ ref('int_transactions__realized_gains_by_household') }}

),

positions as (

    select * from {{ ref('fct_positions') }}

),

account_cash as (

    select * from {{ ref('fct_account_cash') }}

),

security_values as (

    select
        household_id,
        {{ exact_sum('market_value') }} as securities_value,

    from positions
    group by household_id

),

household_cash as (

    select
        household_id,
        {{ exact_sum('cash') }} as cash,

    from account_cash
    group by household_id

),

engine as (

    select * from {{ ref('stg_taxlots__household_realized') }}

),

joined as (

    select
        households.*,
        tax_rates.federal_st_rate,
        tax_rates.federal_lt_rate,
        tax_rates.niit_rate,
        tax_rates.state_rate,
        tax_rates.st_rate,
        tax_rates.lt_rate,
        coalesce(realized_gains.realized_st_gain_ytd, 0.0) as realized_st_gain_ytd,
        coalesce(realized_gains.realized_lt_gain_ytd, 0.0) as realized_lt_gain_ytd,
        coalesce(household_cash.cash, 0.0) as cash,
        coalesce(security_values.securities_value, 0.0) as securities_value,
        engine.engine_realized_st_gain_ytd,
        engine.engine_realized_lt_gain_ytd,
        engine.engine_disallowed_loss_ytd,
        engine.engine_net_capital_gain_ytd,
        engine.engine_ordinary_offset,
        engine.engine_carryforward_short_term,
        engine.engine_carryforward_long_term,

    from households
    left join tax_rates
        on households.household_id = tax_rates.household_id
    left join realized_gains
        on households.household_id = realized_gains.household_id
    left join household_cash
        on households.household_id = household_cash.household_id
    left join security_values
        on households.household_id = security_values.household_id
    left join engine
        on households.household_id = engine.household_id

),

final as (

    select
        ---------- ids
        cast(household_id as varchar) as household_id,

        ---------- tax profile
        cast(filing_status as varchar) as filing_status,
        cast(state as varchar) as state,
        cast(ordinary_income as double) as ordinary_income,
        cast(advisory_fee_bps as double) as advisory_fee_bps,
        cast(annual_tax_budget as double) as annual_tax_budget,

        ---------- the optimizer's settings for this household (null: the firm default)
        cast(risk_aversion as double) as risk_aversion,
        cast(tax_weight as double) as tax_weight,
        cast(trading_cost_bps as double) as trading_cost_bps,
        cast(tracking_error_cap as double) as tracking_error_cap,
        cast(harvest_threshold_start as double) as harvest_threshold_start,
        cast(harvest_threshold_end as double) as harvest_threshold_end,

        ---------- marginal rates
        cast(federal_st_rate as double) as federal_st_rate,
        cast(federal_lt_rate as double) as federal_lt_rate,
        cast(niit_rate as double) as niit_rate,
        cast(state_rate as double) as state_rate,
        cast(st_rate as double) as st_rate,
        cast(lt_rate as double) as lt_rate,

        ---------- gains realized this year (taxable accounts) and the budget left
        cast(realized_st_gain_ytd as double) as realized_st_gain_ytd,
        cast(realized_lt_gain_ytd as double) as realized_lt_gain_ytd,
        -- convention: net gains of each term taxed at its marginal rate; losses do not add budget
        cast(greatest(
            0.0,
            annual_tax_budget - (
                greatest(realized_st_gain_ytd, 0.0) * st_rate
                + greatest(realized_lt_gain_ytd, 0.0) * lt_rate
            )
        ) as double) as tax_budget_remaining,

        ---------- size
        cast(account_count as bigint) as account_count,
        cast(securities_value + cash as double) as market_value,
        cast(cash as double) as cash,

        ---------- the tax-lot engine's year (household-wide wash sales; null when it did not run)
        cast(engine_realized_st_gain_ytd as double) as engine_realized_st_gain_ytd,
        cast(engine_realized_lt_gain_ytd as double) as engine_realized_lt_gain_ytd,
        cast(engine_disallowed_loss_ytd as double) as engine_disallowed_loss_ytd,
        cast(engine_net_capital_gain_ytd as double) as engine_net_capital_gain_ytd,
        cast(engine_ordinary_offset as double) as engine_ordinary_offset,
        cast(engine_carryforward_short_term as double) as engine_carryforward_short_term,
        cast(engine_carryforward_long_term as double) as engine_carryforward_long_term,

    from joined

)

select * from final
