with

lots as (

    select * from {{ ref('stg_canonical__open_lots') }}

),

accounts as (

    select * from {{ ref('stg_canonical__accounts') }}

),

securities as (

    select * from {{ ref('int_securities__priced') }}

),

engine as (

    select * from {{ ref('stg_taxlots__engine_lot_basis') }}

),

joined as (

    select
        lots.*,
        accounts.household_id,
        accounts.taxable,
        -- a security missing from the master is its own identical group
        coalesce(securities.identical_group, lots.security_id) as identical_group,
        securities.price,
        -- held MORE than one year: a sale on or after this date is long-term (Buy 2025-01-01:
        -- 2026-01-01 short, 2026-01-02 long)
        cast(lots.adjusted_acquired_date + interval 1 year + interval 1 day as date) as long_term_date,
        engine.engine_cost_basis,
        engine.basis_difference,
        engine.basis_difference_reason,

    from lots
    left join accounts
        on lots.account_id = accounts.account_id
    left join securities
        on lots.security_id = securities.security_id
    left join engine
        on lots.account_id = engine.account_id
        and lots.lot_id = engine.lot_id

),

final as (

    select
        ---------- ids
        cast(lot_id as varchar) as lot_id,
        cast(account_id as varchar) as account_id,
        cast(household_id as varchar) as household_id,
        cast(security_id as varchar) as security_id,
        cast(identical_group as varchar) as identical_group,

        ---------- quantities and basis
        cast(quantity as double) as quantity,
        cast(cost_basis as double) as cost_basis,
        cast(case when quantity > 0 then cost_basis / quantity end as double) as cost_per_share,

        ---------- holding period
        cast(acquired_date as date) as acquired_date,
        cast(adjusted_acquired_date as date) as adjusted_acquired_date,
        cast(long_term_date as date) as long_term_date,
        cast({{ var_as_of_date() }} >= long_term_date as boolean) as is_long_term,

        ---------- value at the as-of close
        cast(price as double) as price,
        cast(quantity * price as double) as market_value,
        cast(quantity * price - cost_basis as double) as unrealized_gain,
        cast(taxable as boolean) as taxable,

        ---------- lineage (raw.open_lots)
        cast(source_file as varchar) as source_file,
        cast(source_line as bigint) as source_line,
        cast(file_sha256 as varchar) as file_sha256,

        ---------- the tax-lot engine's view of the basis (custodian basis above is never overwritten)
        cast(engine_cost_basis as double) as engine_cost_basis,
        cast(basis_difference as double) as basis_difference,
        cast(basis_difference_reason as varchar) as basis_difference_reason,

    from joined

)

select * from final
