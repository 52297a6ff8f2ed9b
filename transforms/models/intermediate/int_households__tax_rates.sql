-- Combined marginal rates on the next dollar of gain, per household (a convention, see
-- docs/tax-conventions.md): federal ordinary bracket (ST) or 0/15/20% band (LT) containing
-- ordinary_income, + NIIT when ordinary_income exceeds the threshold, + the state's top rate.
-- Brackets are half-open [income_floor, income_top): income exactly at a top gets the next rate.

with

households as (

    select * from {{ ref('int_accounts__rolled_up_to_households') }}

),

ordinary_brackets as (

    {{ in_force_tax_rows(ref('tax_federal_ordinary_brackets'), 'filing_status') }}

),

ltcg_brackets as (

    {{ in_force_tax_rows(ref('tax_federal_ltcg_brackets'), 'filing_status') }}

),

niit_thresholds as (

    {{ in_force_tax_rows(ref('tax_niit_thresholds'), 'filing_status') }}

),

state_rates as (

    {{ in_force_tax_rows(ref('tax_state_top_rates'), 'state') }}

),

federal_st as (

    select
        households.household_id,
        ordinary_brackets.rate as federal_st_rate,

    from households
    inner join ordinary_brackets
        on households.filing_status = ordinary_brackets.filing_status
        and households.ordinary_income >= ordinary_brackets.income_floor
        and (
            ordinary_brackets.income_top is null
            or households.ordinary_income < ordinary_brackets.income_top
        )

),

federal_lt as (

    select
        households.household_id,
        ltcg_brackets.rate as federal_lt_rate,

    from households
    inner join ltcg_brackets
        on households.filing_status = ltcg_brackets.filing_status
        and households.ordinary_income >= ltcg_brackets.income_floor
        and (
            ltcg_brackets.income_top is null
            or households.ordinary_income < ltcg_brackets.income_top
        )

),

niit as (

    select
        households.household_id,
        case
            when households.ordinary_income > niit_thresholds.threshold then niit_thresholds.rate
            else 0.0
        end as niit_rate,

    from households
    inner join niit_thresholds
        on households.filing_status = niit_thresholds.filing_status

),

state as (

    select
        households.household_id,
        state_rates.top_rate as state_rate,

    from households
    inner join state_rates
        on upper(trim(households.state)) = state_rates.state

),

final as (

    select
        households.household_id,
        federal_st.federal_st_rate,
        federal_lt.federal_lt_rate,
        niit.niit_rate,
        state.state_rate,
        -- rounded: the rates are decimal data, the float sum is not (0.15 + 0.133 = 0.28300000000000003)
        round(federal_st.federal_st_rate + niit.niit_rate + state.state_rate, 6) as st_rate,
        round(federal_lt.federal_lt_rate + niit.niit_rate + state.state_rate, 6) as lt_rate,

    from households
    left join federal_st
        on households.household_id = federal_st.household_id
    left join federal_lt
        on households.household_id = federal_lt.household_id
    left join niit
        on households.household_id = niit.household_id
    left join state
        on households.household_id = state.household_id

)

select * from final
