"""Pixel-mask files built by hand with h5py or XML text, in the layouts Mantid and SNAPRed write."""



import h5py
import numpy as np

from snapcal_core.constants import N_LITE_PIXELS, N_NATIVE_PIXELS

LITE = dict(n_pixels=N_LITE_PIXELS, lite=True)
NATIVE = dict(n_pixels=N_NATIVE_PIXELS, lite=False)


def _random_mask(n, seed, fraction=0.05):
    return np.random.default_rng(seed).random(n) < fraction


def _fixed_string(text):
    """A string dataset as Mantid's H5Util::write makes it: fixed length with its NUL, shape (1,)."""
    return np.array([text.encode()], dtype=f"S{len(text) + 1}")


def _savediffcal(path, use, *, detid=None, name="SNAP", source="SNAP_Definition.xml", difc=None):
    """SaveDiffCal's layout; without ``difc`` as with only a MaskWorkspace (SNAPRed's writePixelMask)."""
    n = use.size
    detid = np.arange(n) if detid is None else detid
    with h5py.File(path, "w") as f:
        cal = f.create_group("calibration")
        cal.attrs["NX_class"] = "NXentry"  # variable-length string, as H5Util::writeStrAttribute
        kw = dict(chunks=(n,), compression="gzip", compression_opts=6)
        cal.create_dataset("difc", data=np.zeros(n) if difc is None else difc, **kw)
        if difc is not None:  # with a calibration table SaveDiffCal skips all-zero difa/tzero
            cal.create_dataset("difa", data=np.full(n, 0.1), **kw)
        cal.create_dataset("detid", data=np.asarray(detid, np.int32), **kw)
        cal.create_dataset("group", data=np.ones(n, np.int32), **kw)
        cal.create_dataset("use", data=np.asarray(use, np.int32), **kw)
        inst = cal.create_group("instrument")
        inst.attrs["NX_class"] = "NXinstrument"
        if name:
            inst.create_dataset("name", data=_fixed_string(name))
        inst.create_dataset("instrument_source", data=_fixed_string(source))
    return path


def _nx_entry(f, number, values, members, *, group="mask_workspace", name="SNAP"):
    """One SaveNexusProcessed entry: ``values`` (n_spectra, n_bins), ``members`` the detector ids of each spectrum."""
    entry = f.create_group(f"mantid_workspace_{number}")
    entry.attrs["NX_class"] = "NXentry"
    entry.create_dataset("workspace_name", data=_fixed_string(f"ws{number}"))
    data = entry.create_group(group)
    data.attrs["NX_class"] = "NXdata"
    n = values.shape[0]
    v = data.create_dataset("values", data=values)
    v.attrs.update(signal=np.int32(1), axes=np.bytes_("axis2,axis1"))
    data.create_dataset("errors", data=np.zeros_like(values))
    data.create_dataset("axis1", data=np.zeros(values.shape[1])).attrs["units"] = np.bytes_("TOF")
    data.create_dataset("axis2", data=np.arange(1, n + 1, dtype=np.float64)).attrs["units"] = np.bytes_("spectraNumber")
    inst = entry.create_group("instrument")
    inst.attrs["NX_class"] = "NXinstrument"
    inst.create_dataset("name", data=_fixed_string(name))
    if members is not None:
        det = inst.create_group("detector")
        det.attrs["NX_class"] = "NXdetector"
        count = np.array([m.size for m in members], np.int32)
        det.create_dataset("detector_index", data=(np.cumsum(count) - count).astype(np.int32))
        det.create_dataset("detector_count", data=count)
        det.create_dataset("detector_list", data=np.concatenate(members).astype(np.int32))
        det.create_dataset("spectra", data=np.arange(1, n + 1, dtype=np.int32))
    return entry


def _savenexus_mask(path, masked_ids, *, n=N_LITE_PIXELS, seed=0, monitors=False, name="SNAP"):
    """A MaskWorkspace saved by SaveNexusProcessed, its spectra in shuffled detector order."""
    ids = np.random.default_rng(seed).permutation(n)
    values = np.isin(ids, masked_ids).astype(np.float64)[:, None]
    members = [np.array([i]) for i in ids]
    if monitors:
        members += [np.array([-1]), np.array([-2])]
        values = np.vstack([values, [[1.0], [0.0]]])
    with h5py.File(path, "w") as f:
        _nx_entry(f, 1, values, members, name=name)
    return path


SAVEMASK_XML = '<?xml version="1.0"?>\n<detector-masking>\n\t<group>\n\t\t<detids>{}</detids>\n\t</group>\n' \
               '</detector-masking>\n'


def _xml(path, body):
    path.write_text(body)
    return path
