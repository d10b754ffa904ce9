import numpy as np

from snapcal_core.models import DetectorState, EventData, RunMetadata
from snapcal_core.scratch import events_dir, load_events, save_events


def test_events_round_trip_through_scratch(tmp_path):
    state = DetectorState(arc_deg=(-65.3, 104.95), lin_m=(0.045, 0.043), wavelength_angstrom=2.1,
                          frequency_hz=60, guide=1)
    meta = RunMetadata(run_number=7, ipts=1, state=state, raw_path="/x/SNAP_7.nxs.h5")
    rng = np.random.default_rng(0)
    events = EventData(pixel=rng.integers(0, 18432, 1000).astype(np.uint32),
                       tof_us=rng.uniform(1e3, 1e4, 1000).astype(np.float32), lite=True, metadata=meta)
    folder = save_events(events, events_dir(tmp_path, run_number=7, lite=True))
    save_events(events, folder)  # replacing an existing set works
    back = load_events(folder)
    np.testing.assert_array_equal(back.pixel, events.pixel)
    np.testing.assert_array_equal(back.tof_us, events.tof_us)
    assert back.metadata == meta and back.lite
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]
