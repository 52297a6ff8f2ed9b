-- The schwab account master (ACC) in canonical columns. Codes as in custodian/dialects/schwab.py
-- (tests/test_dialects_dbt.py checks they agree).

with

source as (

    select * from {{ dialect_source('schwab', 'accounts', [['business_date', 'date'], ['account_number', 'varchar'], ['firm_reference', 'varchar'], ['registration_code', 'varchar'], ['tax_status', 'varchar'], ['as_of_date', 'date'], ['source_file', 'varchar'], ['source_line', 'bigint'], ['file_sha256', 'varchar']]) }}

),

final as (

    select

        ---------- ids
        firm_reference as account_id,
        account_number as custodian_account_number,

        ---------- text
        'schwab' as custodian,
        case registration_code
            when 'IND' then 'individual'
            when 'JNT' then 'joint'
            when 'IRA' then 'traditional_ira'
            when 'ROTH' then 'roth_ira'
        end as registration,

        ---------- booleans
        tax_status = 'T' as taxable,

        ---------- lineage
        as_of_date,
        source_file,
        source_line,
        file_sha256,

    from source
    where as_of_date = {{ var_as_of_date() }}

)

select * from final
