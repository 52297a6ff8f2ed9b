-- Each household's model resolved to security weights (blends expanded one level; CASH included).

with

households as (

    select * from {{ ref('int_accounts__rolled_up_to_households') }}

),

model_weights as (

    select * from {{ ref('int_models__resolved_to_securities') }}

),

final as (

    select
        cast(households.household_id as varchar) as household_id,
        cast(model_weights.model_id as varchar) as model_id,
        cast(model_weights.model_version as varchar) as model_version,
        cast(model_weights.security_id as varchar) as security_id,
        cast(model_weights.target_weight as double) as target_weight,

    from households
    inner join model_weights
        on households.model_id = model_weights.model_id

)

select * from final
