"""How groups of GPU actors are reserved (`serve --ray ... --gpus all --group-size 2`), on a local
Ray cluster that declares two GPUs this machine does not have: Ray schedules by the declared
resources, so the placement groups and where the actors go are Ray's real ones; nothing renders
(tests/test_ray_group.py renders on CPU actors)."""

import pytest

from wan.cluster import start_ray_workers
from wan.cluster.sizing import group_bundle


@pytest.fixture(scope="module")
def two_gpu_cluster():
    ray = pytest.importorskip("ray")
    ray.init(
        num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1"
    )
    yield ray
    ray.shutdown()


def test_a_group_of_gpu_actors_is_one_placement_group_on_one_node(two_gpu_cluster, tmp_path):
    from ray.util import placement_group_table

    from wan.service import JobStore

    pool = start_ray_workers(JobStore(tmp_path / "jobs"), "auto", api_options={}, gpus="all", group_size=2)
    try:
        (slot,) = pool.slots
        assert pool.device_type == "cuda" and len(slot.actors) == 2
        # each actor fits its bundle: Ray gives an actor that asks for a GPU a CPU as well
        described = two_gpu_cluster.get([actor.describe.remote() for actor in slot.actors], timeout=120)
        assert len({d["pid"] for d in described}) == 2
        table = placement_group_table(slot.placement)
        assert table["strategy"] == "STRICT_PACK" and table["state"] == "CREATED"
        assert list(table["bundles"].values()) == [group_bundle(True)] * 2
        assert len(set(table["bundles_to_node_id"].values())) == 1
        address, port = two_gpu_cluster.get(slot.actor.rendezvous.remote())
        assert address and 0 < port < 65536
    finally:
        pool.stop(timeout=5)
    assert placement_group_table(slot.placement)["state"] == "REMOVED"
