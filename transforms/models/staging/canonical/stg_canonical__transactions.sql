with

source as (

    select * from {{ source('raw', 'transactions') }}

),

final as (

    select

        ---------- ids
        transaction_id,
        account_id,
        security_id,
        lot_id,

        ---------- text
        transaction_type,
        holding_term,

        ---------- numerics
        quantity,
        price,
        amount,
        realized_gain,

        ---------- dates
        trade_date,
        settle_date,

        ---------- lineage
        as_of_date,
        source_file,
        source_line,
        file_sha256,

    from source
    where as_of_date = {{ var_as_of_date() }}

)

select * from final
