-- Every account the custodians' own account masters deliver (Schwab .ACC, Fidelity NABASE,
-- Pershing ACCT), with the custodian's account number. Empty for a firm whose custodians deliver
-- the canonical layout; dim_accounts then has no custodian account numbers.

with

schwab as (

    select * from {{ ref('stg_schwab__accounts') }}

),

fidelity as (

    select * from {{ ref('stg_fidelity__accounts') }}

),

pershing as (

    select * from {{ ref('stg_pershing__accounts') }}

),

unioned as (

    select * from schwab
    union all
    select * from fidelity
    union all
    select * from pershing

),

final as (

    select
        ---------- ids
        account_id,
        custodian_account_number,

        ---------- attributes (as the custodian has them)
        custodian,
        registration,
        taxable,

        ---------- lineage
        source_file,
        source_line,

    from unioned

)

select * from final
