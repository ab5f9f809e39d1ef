"""`bgeraser-cli serve` against a real server process on loopback, with the fake backend of the
batch tests (a soft ellipse) so that every request takes milliseconds: answers, remove.bg
fields, the API key, bad inputs, metrics and the docs."""

from __future__ import annotations

import base64
import io
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from batch_fakes import make_backend, write_photo
from PIL import Image, ImageOps
from serve_process import FAKE, start_server

from bgeraser_gui.assemble import PipelineSpec, build_pipeline

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

KEY = "test-key-123"
SHARED_TOOLS = Path(__file__).resolve().parents[2] / "shared" / "tools"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve")
    args = [*FAKE, "--no-refine", "--api-key", KEY, "--max-upload-mb", "4"]
    running = start_server(folder, args, key=KEY)
    yield running
    assert running.stop() in (0, -signal.SIGTERM), running.output()
    assert "Application shutdown complete" in running.output()


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    return write_photo(tmp_path_factory.mktemp("in") / "shop item.jpg", size=(160, 120))


def _image(response) -> Image.Image:
    assert response.status_code == 200, response.text
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


def _error(response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    title = response.json()["errors"][0]["title"]
    assert title and "Traceback" not in response.text
    return title


def _cli_alpha(photo: Path, out: Path, refine: bool = False) -> np.ndarray:
    """The alpha the CLI's pipeline writes for `photo` (`process_file`, as `cutout` runs it)
    with the server's settings (`--no-refine`, the fake backend)."""
    spec = PipelineSpec(backend_factory=make_backend, refine=refine)
    pipeline = build_pipeline(spec)
    written = pipeline.process_file(photo, out)
    with Image.open(written) as im:
        return np.asarray(im.getchannel("A"))


def test_removebg_answers_the_cli_cutout_as_rgba_png(server, photo, tmp_path):
    with open(photo, "rb") as handle:
        response = server.client.post("/v1.0/removebg", files={"image_file": handle})
    image = _image(response)
    assert response.headers["content-type"] == "image/png"
    assert image.mode == "RGBA" and image.size == (160, 120)
    assert (response.headers["x-width"], response.headers["x-height"]) == ("160", "120")
    assert int(response.headers["x-foreground-width"]) < 160
    expected = _cli_alpha(photo, tmp_path)
    assert np.array_equal(np.asarray(image.getchannel("A")), expected)


def test_api_remove_takes_the_raw_body_and_cli_flags(server, photo, tmp_path):
    data = photo.read_bytes()
    image = _image(server.client.post("/api/remove?refine=true", content=data))
    refined = _cli_alpha(photo, tmp_path, refine=True)
    assert np.array_equal(np.asarray(image.getchannel("A")), refined)
    assert not np.array_equal(refined, _cli_alpha(photo, tmp_path))
    mask = _image(server.client.post("/api/remove", params={"mask_only": "true"}, content=data))
    assert mask.mode == "L" and np.array_equal(np.asarray(mask), _cli_alpha(photo, tmp_path))
    flat = _image(
        server.client.post(
            "/api/remove", params={"background": "#00ff00", "format": "jpeg"}, content=data
        )
    )
    assert flat.format == "JPEG" and flat.mode == "RGB"
    assert np.abs(np.asarray(flat)[0, 0].astype(int) - (0, 255, 0)).max() < 20
    cropped = _image(server.client.post("/api/remove?crop=0&resize=50", content=data))
    assert max(cropped.size) == 50 and cropped.size[0] / cropped.size[1] != 160 / 120
    bad = server.client.post("/api/remove?quality=perfect", content=data)
    assert "quality" in _error(bad, 400)
    assert "JPEG" in _error(server.client.post("/api/remove?format=jpeg", content=data), 400)
    assert "background" in _error(
        server.client.post("/api/remove?background=/etc/passwd", content=data), 400
    )
    assert "empty" in _error(server.client.post("/api/remove", content=b""), 400)


def test_removebg_fields(server, photo):
    def post(**fields):
        with open(photo, "rb") as handle:
            return server.client.post("/v1.0/removebg", files={"image_file": handle}, data=fields)

    coloured = _image(post(bg_color="ff0000"))  # format auto + a background -> JPEG
    assert coloured.format == "JPEG"
    assert np.abs(np.asarray(coloured)[0, 0].astype(int) - (255, 0, 0)).max() < 20
    assert _image(post(bg_color="green", format="png")).mode == "RGB"
    backdrop = io.BytesIO()
    Image.new("RGB", (40, 30), (0, 0, 255)).save(backdrop, "PNG")
    with open(photo, "rb") as handle:
        upload = {"image_file": handle, "bg_image_file": ("sky.png", backdrop.getvalue())}
        on_image = _image(server.client.post("/v1.0/removebg", files=upload))
    assert on_image.format == "JPEG" and on_image.size == (160, 120)
    assert np.abs(np.asarray(on_image)[0, 0].astype(int) - (0, 0, 255)).max() < 20
    with open(photo, "rb") as handle:
        upload = {"image_file": handle, "bg_image_file": ("bg.png", b"not an image")}
        _error(server.client.post("/v1.0/removebg", files=upload), 415)
    alpha = _image(post(channels="alpha"))
    assert alpha.mode == "L" and alpha.size == (160, 120)
    cropped = post(crop="true", crop_margin="5px")
    width, height = _image(cropped).size
    assert width < 160 and height < 120
    assert cropped.headers["x-foreground-left"] == cropped.headers["x-foreground-top"] == "5"
    preview = _image(post(size="preview"))
    assert preview.size == (160, 120)  # already under 0.25 MP: unchanged
    bundle = zipfile.ZipFile(io.BytesIO(post(format="zip").content))
    assert sorted(bundle.namelist()) == ["alpha.png", "color.jpg"]
    assert Image.open(io.BytesIO(bundle.read("alpha.png"))).size == (160, 120)
    with open(photo, "rb") as handle:
        as_json = server.client.post(
            "/v1.0/removebg", files={"image_file": handle}, headers={"Accept": "application/json"}
        )
    data = as_json.json()["data"]
    assert Image.open(io.BytesIO(base64.b64decode(data["result_b64"]))).size == (160, 120)
    assert data["foreground_width"] == int(as_json.headers["x-foreground-width"])
    encoded = base64.b64encode(photo.read_bytes()).decode()
    from_b64 = server.client.post("/v1.0/removebg", data={"image_file_b64": encoded})
    assert _image(from_b64).size == (160, 120)
    for fields, words in (
        ({"format": "gif"}, "format"),
        ({"size": "huge"}, "size"),
        ({"type": "planet"}, "type"),
        ({"channels": "cmyk"}, "channels"),
        ({"bg_color": "not-a-colour"}, "bg_color"),
        ({"crop": "true", "crop_margin": "10%"}, "crop_margin"),
    ):
        assert words in _error(post(**fields), 400)
    no_image = server.client.post("/v1.0/removebg", data={"size": "auto"})
    assert "image" in _error(no_image, 400)
    by_url = server.client.post("/v1.0/removebg", data={"image_url": "http://169.254.169.254/"})
    assert "image_url" in _error(by_url, 400)


def test_api_key_is_required_everywhere(server, photo):
    import httpx

    for headers in ({}, {"X-Api-Key": "wrong"}, {"Authorization": "Bearer wrong"}):
        with httpx.Client(base_url=server.url, headers=headers) as client:
            for method, path in (("GET", "/health"), ("GET", "/metrics"), ("GET", "/docs")):
                assert "API key" in _error(client.request(method, path), 401)
            upload = client.post("/api/remove", content=photo.read_bytes())
            assert upload.status_code == 401
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}) as client:
        assert client.get("/health").status_code == 200


def _bad_inputs(folder: Path) -> list[Path]:
    tool = SHARED_TOOLS / "make-bad-inputs.py"
    if not tool.exists():
        pytest.skip(f"{tool} not found")
    subprocess.run([sys.executable, str(tool), str(folder)], check=True, capture_output=True)
    return sorted(folder.iterdir())


def test_every_bad_input_gets_a_4xx_and_every_awkward_one_a_correct_image(server, tmp_path):
    files = _bad_inputs(tmp_path / "bad")
    assert len(files) >= 15
    for path in files:
        data = path.read_bytes()
        answers = (
            server.client.post("/api/remove", content=data),
            server.client.post("/v1.0/removebg", files={"image_file": (path.name, data)}),
        )
        for response in answers:
            if path.name.startswith("bad_"):
                assert 400 <= response.status_code < 500, (path.name, response.text)
                _error(response, response.status_code)
            else:
                image = _image(response)
                with Image.open(path) as source:
                    expected = ImageOps.exif_transpose(source).size
                assert image.size == expected, path.name
                assert image.mode == "RGBA", path.name
    bomb = server.client.post(
        "/api/remove", content=(tmp_path / "bad" / "bad_bomb_100000x100000.png").read_bytes()
    )
    assert "MP" in _error(bomb, 413)


def test_request_size_limit_before_parsing(server):
    body = b"\0" * (5 * 2**20)  # over --max-upload-mb 4
    assert "limit" in _error(server.client.post("/api/remove", content=body), 413)

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(5):
            yield b"\0" * 2**20

    assert "limit" in _error(server.client.post("/api/remove", content=chunks()), 413)


def test_health_metrics_docs_and_json_404(server):
    health = server.client.get("/health").json()
    assert health["status"] == "ok" and health["workers"] == 1 and health["queue_length"] == 0
    server.client.get("/no/such/page")
    text = server.client.get("/metrics").text
    assert 'bgeraser_requests_total{route="/health",method="GET",status="200"}' in text
    assert 'bgeraser_requests_total{route="other",method="GET",status="404"}' in text
    assert "bgeraser_request_seconds_bucket" in text and "bgeraser_queue_length 0" in text
    rss = [line for line in text.splitlines() if line.startswith("bgeraser_resident_memory_bytes")]
    assert int(rss[0].split()[1]) > 10 * 2**20
    paths = server.client.get("/openapi.json").json()["paths"]
    assert {"/v1.0/removebg", "/api/remove", "/health", "/metrics"} <= set(paths)
    assert server.client.get("/docs").status_code == 200
    assert _error(server.client.get("/no/such/page"), 404)
    assert _error(server.client.get("/api/remove"), 405)


def test_16bit_upload_answers_16bit_and_layers(server, tmp_path):
    """A 16-bit PNG answers a 16-bit PNG (colours untouched, 16-bit alpha); format=psd answers
    the layered file (issue 18.4/18.5)."""
    import cv2

    rng = np.random.default_rng(3)
    rgb16 = cv2.GaussianBlur(rng.integers(0, 65535, (90, 120, 3)).astype(np.uint16), (0, 0), 3)
    data = cv2.imencode(".png", rgb16[..., ::-1])[1].tobytes()
    response = server.client.post("/api/remove", content=data)
    assert response.status_code == 200, response.text
    answer = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_UNCHANGED)
    assert answer.dtype == np.uint16 and answer.shape == (90, 120, 4)
    assert np.array_equal(answer[..., 2::-1], rgb16)
    assert len(np.unique(answer[..., 3])) > 2
    layered = server.client.post("/api/remove", params={"format": "psd"}, content=data)
    assert layered.status_code == 200, layered.text
    assert layered.headers["content-type"] == "image/vnd.adobe.photoshop"
    from psd_tools import PSDImage

    psd = PSDImage.open(io.BytesIO(layered.content))
    assert psd.depth == 16 and [layer.name for layer in psd][-1] == "cutout"
