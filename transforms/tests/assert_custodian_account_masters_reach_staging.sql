{{ config(meta={"dagster": {"ref": {"name": "int_accounts__custodian_numbers"}}}) }}

-- Every row of the day's custodian account masters (Schwab ACC, Fidelity NABASE, Pershing ACCT)
-- reaches staging, so every account of a custodian that delivers its own master carries that
-- custodian's account number into dim_accounts and the upload files. A staging model compiled
-- from dialect_source's empty fallback while the raw table exists (the relation-cache race that
-- macro documents) fails here and stops the build before the marts.

{% set masters = [("schwab", "stg_schwab__accounts"), ("fidelity", "stg_fidelity__accounts"),
                  ("pershing", "stg_pershing__accounts")] %}

with

counts as (

    {% for custodian, model in masters %}
    {%- set raw_accounts = source(custodian, "accounts") %}
    select
        '{{ custodian }}' as custodian,
        {% if execute and dialect_relation_exists(raw_accounts) -%}
        (select count(*) from {{ raw_accounts }} where as_of_date = {{ var_as_of_date() }})
        {%- else -%}
        0
        {%- endif %} as delivered_rows,
        (select count(*) from {{ ref(model) }}) as staged_rows
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from counts
where delivered_rows <> staged_rows
