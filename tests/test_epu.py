"""EPU sessions (issue 19): dose, time, pixel size and voltage from the .xml EPU writes beside each movie."""

from __future__ import annotations

import json
import shutil

import pytest

from mrczflow.simulate import DetectorConfig, SessionConfig, Truth, simulate
from mrczflow.storage.exposure import epu_xml_path, exposure_from_epu, exposure_from_sidecar, sidecar
from mrczflow.storage.movies import IngestError
from mrczflow.storage.names import acquisition_time

from .workflow_helpers import configure, deploy, snakemake

EPU_XML = """<MicroscopeImage xmlns="http://schemas.datacontract.org/2004/07/Fei.SharedObjects"
 xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
 <CustomData xmlns:a="http://schemas.microsoft.com/2003/10/Serialization/Arrays">
  <a:KeyValueOfstringanyType><a:Key>BinaryResult.Detector</a:Key><a:Value>{camera}</a:Value></a:KeyValueOfstringanyType>
  <a:KeyValueOfstringanyType><a:Key>Detectors[{camera}].DoseRate</a:Key><a:Value>{rate}</a:Value></a:KeyValueOfstringanyType>
  <a:KeyValueOfstringanyType><a:Key>Detectors[{camera}].TotalDose</a:Key><a:Value>{total}</a:Value></a:KeyValueOfstringanyType>
 </CustomData>
 <SpatialScale><pixelSize><x><numericValue>{pixel_m}</numericValue></x><y><numericValue>{pixel_m}</numericValue></y>
 </pixelSize></SpatialScale>
 <microscopeData>
  <acquisition><acquisitionDateTime>{when}</acquisitionDateTime>
   <camera><ExposureTime>{exposure}</ExposureTime><Name>{camera}</Name></camera></acquisition>
  <gun><AccelerationVoltage>300000</AccelerationVoltage></gun>
 </microscopeData>
</MicroscopeImage>
"""


def epu_xml(
    path, *, rate=4.0, exposure=2.5, pixel=0.83, when="2024-09-01T06:01:19.0039293+02:00", camera="EF-Falcon"
):
    path.write_text(
        EPU_XML.format(
            camera=camera,
            rate=rate,
            total=rate * exposure,
            pixel_m=pixel * 1e-10,
            when=when,
            exposure=exposure,
        )
    )
    return path


def test_epu_names_and_fields(tmp_path):
    movie = tmp_path / "FoilHole_31933450_Data_31923934_31923936_20240901_060117_fractions.tiff"
    assert epu_xml_path(movie).name == "FoilHole_31933450_Data_31923934_31923936_20240901_060117.xml"
    assert epu_xml_path(tmp_path / "FoilHole_1_Data_2_3_20240901_060117_EER.eer").name == (
        "FoilHole_1_Data_2_3_20240901_060117.xml"
    )
    movie.write_bytes(b"")
    assert sidecar(movie, "auto") is None
    xml = epu_xml(epu_xml_path(movie))
    assert sidecar(movie, "auto") == xml and sidecar(movie, "mdoc") is None
    exposure = exposure_from_sidecar(xml)
    assert exposure.dose_rate == 4.0 and exposure.exposure_time == 2.5
    assert exposure.pixel_size == pytest.approx(0.83) and exposure.voltage == 300
    assert exposure.timestamp == "2024-09-01T06:01:19.003929"
    assert exposure.source.startswith("epu ")
    assert acquisition_time(movie, xml) == ("2024-09-01T06:01:19.003929", "EPU acquisitionDateTime")
    # A .mdoc beside the movie wins under auto.
    (tmp_path / (movie.name + ".mdoc")).write_text("[FrameSet = 0]\nDoseRate = 3\n")
    assert sidecar(movie, "auto").suffix == ".mdoc" and sidecar(movie, "epu") == xml


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rate": -1.0}, "DoseRate"),
        ({"when": "yesterday"}, "acquisitionDateTime"),
        ({"pixel": float("nan")}, "pixelSize"),
    ],
)
def test_a_lying_epu_xml_is_refused_naming_the_field(tmp_path, change, message):
    xml = epu_xml(tmp_path / "m.xml", **change)
    with pytest.raises(IngestError, match=message):
        exposure_from_epu(xml)


def test_a_truncated_epu_xml_is_refused_naming_the_file(tmp_path):
    xml = epu_xml(tmp_path / "m.xml")
    xml.write_text(xml.read_text()[:300])
    with pytest.raises(IngestError, match="m.xml: unreadable EPU .xml"):
        exposure_from_epu(xml)


@pytest.mark.slow
def test_an_epu_session_runs_with_only_its_movies_set(tmp_path):
    raw = tmp_path / "raw"
    simulate(
        raw,
        SessionConfig(n_stacks=4, n_frames=6, formats=("tiff",), dose_rate=3.0, dose_rate_jitter=0, seed=4),
        DetectorConfig(shape=(96, 96)),
        references=False,
    )
    truth = Truth(raw / "truth" / "session.npz")
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    # EPU names sort by foil hole, not by time: the times below put them in another order.
    for i, minute in enumerate((40, 10, 30, 20)):
        stem = f"FoilHole_{900 + i}_Data_{i}_{i}_20240901_06{minute:02d}00"
        movie = incoming / f"{stem}_fractions.tiff"
        shutil.copy(raw / "movies_tiff" / f"stack_{i:04d}.tif", movie)
        epu_xml(
            incoming / f"{stem}.xml",
            rate=float(truth.stack(i).dose_rate),
            exposure=6 * 0.25,
            when=f"2024-09-01T06:{minute:02d}:00.1234567+02:00",
        )
    dest = deploy(tmp_path / "wf")
    configure(dest, movies=str(incoming / "*"))
    result = snakemake(dest, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads(p.read_text()) for p in (dest / "results" / "ingest").glob("*.json")]
    assert len(records) == 4
    for record in records:
        assert record["dose_source"].startswith("epu ") and record["dose_source"].endswith(".xml")
        assert record["pixel_size"] == pytest.approx(0.83) and record["voltage"] == 300
        assert record["frame_time"] == pytest.approx(0.25)
        assert record["timestamp"].startswith("2024-09-01T06:")
    order = (dest / "results" / "session" / "stacks.tsv").read_text().splitlines()[1:]
    stacks = [line.split("\t")[1] for line in order]
    assert [s.split("_")[1] for s in stacks] == ["901", "903", "902", "900"]  # by acquisitionDateTime
