-- Every model resolved to security weights. A component of type 'model' is expanded ONE level:
-- blend weight x the component model's security weights, summed per security. A component model
-- that is itself a blend contributes nothing, so its parent's weights no longer sum to 1 (the
-- readiness mart holds households on such a model). CASH is a security component like any other.

with

models as (

    select * from {{ ref('stg_canonical__models') }}

),

-- a file should carry one version per model; if it carries more, the greatest version string wins
current_versions as (

    select
        model_id,
        max(model_version) as model_version,

    from models
    group by model_id

),

current_components as (

    select models.*

    from models
    inner join current_versions
        on models.model_id = current_versions.model_id
        and models.model_version = current_versions.model_version

),

direct_weights as (

    select
        model_id,
        component_id as security_id,
        component_weight as weight,

    from current_components
    where component_type = 'security'

),

blended_weights as (

    select
        blends.model_id,
        direct_weights.security_id,
        blends.component_weight * direct_weights.weight as weight,

    from current_components as blends
    inner join direct_weights
        on blends.component_id = direct_weights.model_id
    where blends.component_type = 'model'

),

all_weights as (

    select * from direct_weights
    union all
    select * from blended_weights

),

final as (

    select
        all_weights.model_id,
        current_versions.model_version,
        all_weights.security_id,
        {{ exact_sum('all_weights.weight') }} as target_weight,

    from all_weights
    inner join current_versions
        on all_weights.model_id = current_versions.model_id
    group by
        all_weights.model_id,
        current_versions.model_version,
        all_weights.security_id

)

select * from final
