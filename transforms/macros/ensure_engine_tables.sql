{% macro ensure_engine_tables() %}
    {#- The tax-lot engine's output (written by the Dagster asset taxlots/engine_lot_basis) is a dbt
        source; create it empty when the engine has not run yet, so the project builds on its own and
        the engine columns of fct_lots are simply null. -#}
    create schema if not exists taxlots;
    create table if not exists taxlots.engine_lot_basis (
        as_of_date date, run_id varchar, account_id varchar, lot_id varchar, household_id varchar,
        security_id varchar, custodian_quantity double, engine_quantity double, custodian_cost_basis double,
        engine_cost_basis double, basis_difference double, custodian_wash_sale_adjustment double,
        engine_wash_sale_adjustment double, custodian_adjusted_acquired_date date,
        engine_adjusted_acquired_date date, basis_difference_reason varchar
    );
    create table if not exists taxlots.household_realized (
        as_of_date date, run_id varchar, household_id varchar, tax_year bigint,
        engine_realized_st_gain_ytd double, engine_realized_lt_gain_ytd double, engine_disallowed_loss_ytd double,
        engine_permanently_disallowed_ytd double, engine_net_capital_gain_ytd double, engine_ordinary_offset double,
        engine_carryforward_short_term double, engine_carryforward_long_term double, engine_error varchar
    );
{% endmacro %}
