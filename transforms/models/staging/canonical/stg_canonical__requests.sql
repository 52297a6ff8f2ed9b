with

source as (

    select * from {{ source('raw', 'requests') }}

),

final as (

    select

        ---------- ids
        request_id,
        household_id,
        account_id,

        ---------- text
        request_type,
        account_choice,
        eligible_accounts,

        ---------- numerics
        amount,

        ---------- dates
        hold_until,

        ---------- lineage
        as_of_date,
        source_file,
        source_line,
        file_sha256,

    from source
    -- today's requests, and the tax_loss_harvest requests of earlier days whose hold still runs
    -- (their harvested groups stay closed to buying until hold_until)
    where as_of_date = {{ var_as_of_date() }}
        or (
            request_type = 'tax_loss_harvest'
            and as_of_date < {{ var_as_of_date() }}
            and hold_until >= {{ var_as_of_date() }}
        )

)

select * from final
