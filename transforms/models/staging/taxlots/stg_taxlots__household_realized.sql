with

source as (

    select * from {{ source('taxlots', 'household_realized') }}

),

final as (

    select

        ---------- ids
        household_id,

        ---------- this year, from the engine's replay
        engine_realized_st_gain_ytd,
        engine_realized_lt_gain_ytd,
        engine_disallowed_loss_ytd,
        engine_permanently_disallowed_ytd,
        engine_net_capital_gain_ytd,
        engine_ordinary_offset,
        engine_carryforward_short_term,
        engine_carryforward_long_term,
        engine_error,

    from source
    where as_of_date = {{ var_as_of_date() }}

)

select * from final
