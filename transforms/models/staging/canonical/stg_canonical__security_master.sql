with

source as (

    select * from {{ source('raw', 'security_master') }}

),

final as (

    select

        ---------- ids
        security_id,
        ticker,
        cusip,
        identical_group,

        ---------- text
        description,
        security_type,
        asset_class,
        gics_sector,
        gics_industry,

        ---------- lineage
        as_of_date,
        source_file,
        source_line,
        file_sha256,

    from source
    where as_of_date = {{ var_as_of_date() }}

)

select * from final
