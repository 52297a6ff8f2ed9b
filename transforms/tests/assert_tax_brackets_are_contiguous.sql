{{ config(meta={"dagster": {"ref": {"name": "tax_federal_ordinary_brackets"}}}) }}

-- Every bracket starts where the previous one (same table, year, filing status) ends, the first
-- starts at 0 and only the last one is open-ended.

with

brackets as (

    select 'ordinary' as bracket_table, * from {{ ref('tax_federal_ordinary_brackets') }}
    union all
    select 'ltcg' as bracket_table, * from {{ ref('tax_federal_ltcg_brackets') }}

),

ordered as (

    select
        *,
        lag(income_top) over (
            partition by bracket_table, effective_tax_year, filing_status
            order by income_floor
        ) as previous_top,
        row_number() over (
            partition by bracket_table, effective_tax_year, filing_status
            order by income_floor desc
        ) = 1 as is_last,
    from brackets

),

final as (

    select *
    from ordered
    where (previous_top is null and income_floor <> 0)
        or (previous_top is not null and income_floor <> previous_top)
        or (income_top is null) <> is_last
        or income_top <= income_floor

)

select * from final
