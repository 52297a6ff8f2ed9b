-- Wash-sale windows still open on the as-of date (window_end inclusive).

with

windows as (

    select * from {{ ref('int_transactions__wash_windows') }}

),

final as (

    select
        ---------- ids
        cast(household_id as varchar) as household_id,
        cast(identical_group as varchar) as identical_group,

        ---------- window
        cast(window_type as varchar) as window_type,
        cast(window_start as date) as window_start,
        cast(window_end as date) as window_end,

        ---------- provenance
        cast(source_transaction_id as varchar) as source_transaction_id,
        cast(source_account_id as varchar) as source_account_id,
        cast(exempt_lot_id as varchar) as exempt_lot_id,

    from windows
    where window_end >= {{ var_as_of_date() }}

)

select * from final
