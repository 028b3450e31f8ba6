"""Pure, vectorised metric functions for commissioning networks.

The measures are grouped in the study's vocabulary:

``knowledge``
    accuracy and dispersion of beliefs, detection of shocks;
``coherence``
    agreement of objectives inside boards and with the wider system;
``stability``
    persistence of ties, people and decisions;
``relevance``
    fit of allocations to need and provider capacity;
``structure``
    density, centralisation, clustering, modularity, E-I index, ego measures.

All functions take and return numpy arrays (graphs as symmetric
:mod:`scipy.sparse` arrays) and import nothing from the model.
"""

from .coherence import (
    RowWeights,
    SystemWeights,
    external_coherence,
    internal_coherence,
    system_objective,
)
from .knowledge import (
    GroupIndex,
    accuracy,
    detection_time,
    dispersion,
    dispersion_by_group,
    mean_by_group,
    tv_distance,
)
from .relevance import (
    locality_relevance,
    misallocated_per_head,
    patient_relevance,
    provider_relevance,
    relevance_skill,
    shock_funded,
    wasted_spend,
)
from .stability import (
    decision_volatility,
    edge_keys,
    jaccard,
    jaccard_by_group,
    retention,
    strength_concentration,
)
from .structure import (
    betweenness,
    betweenness_centralisation,
    betweenness_centralisation_by_group,
    clustering_by_group,
    degree_centralisation_by_group,
    density_by_group,
    ego_measures,
    ei_index_by_group,
    modularity,
    modularity_by_group,
    tie_share_by_type,
    transitivity_by_group,
)

__all__ = [
    "GroupIndex",
    "RowWeights",
    "SystemWeights",
    "accuracy",
    "betweenness",
    "betweenness_centralisation",
    "betweenness_centralisation_by_group",
    "clustering_by_group",
    "decision_volatility",
    "degree_centralisation_by_group",
    "density_by_group",
    "detection_time",
    "dispersion",
    "dispersion_by_group",
    "edge_keys",
    "ego_measures",
    "ei_index_by_group",
    "external_coherence",
    "internal_coherence",
    "jaccard",
    "jaccard_by_group",
    "locality_relevance",
    "mean_by_group",
    "misallocated_per_head",
    "modularity",
    "modularity_by_group",
    "patient_relevance",
    "provider_relevance",
    "relevance_skill",
    "retention",
    "shock_funded",
    "strength_concentration",
    "system_objective",
    "tie_share_by_type",
    "transitivity_by_group",
    "tv_distance",
    "wasted_spend",
]
