
import pytest

from labkit.settings import PROFILES, REPO_ROOT, LabError, load_settings


def test_defaults_are_the_tutorials():
    s = load_settings({})
    assert (s.dataset, s.profile.name, s.device) == ("cifar10", "full", "auto")
    assert s.data_dir == REPO_ROOT / "data" and s.output_dir == REPO_ROOT / "outputs"
    assert (s.profile.batch_size, s.profile.epochs, s.profile.lr) == (4, 2, 0.001)
    assert s.profile.train_size is None and s.profile.test_size is None


@pytest.mark.parametrize("name, value", [("LAB_DATASET", "synthetic"), ("LAB_PROFILE", "quick"),
                                         ("LAB_PROFILE", "smoke"), ("LAB_DEVICE", "cpu"),
                                         ("LAB_DEVICE", "cuda")])
def test_every_allowed_value_is_accepted(name, value):
    s = load_settings({name: value})
    assert value in (s.dataset, s.profile.name, s.device)


def test_values_are_case_and_space_tolerant():
    assert load_settings({"LAB_PROFILE": " Quick "}).profile.name == "quick"


@pytest.mark.parametrize("name, value, allowed", [
    ("LAB_DATASET", "imagenet", "cifar10, synthetic"),
    ("LAB_PROFILE", "fast", "full, quick, smoke"),
    ("LAB_DEVICE", "gpu", "auto, cpu, cuda"),
])
def test_unknown_value_lists_the_allowed_ones(name, value, allowed):
    with pytest.raises(LabError) as e:
        load_settings({name: value})
    message = str(e.value)
    assert f"{name}='{value}'" in message and allowed in message


def test_relative_data_dir_is_taken_from_the_repo_root(tmp_path):
    assert load_settings({"LAB_DATA_DIR": "elsewhere"}).data_dir == REPO_ROOT / "elsewhere"
    assert load_settings({"LAB_DATA_DIR": str(tmp_path)}).data_dir == tmp_path.resolve()


@pytest.mark.parametrize("name", ["LAB_DATA_DIR", "LAB_OUTPUT_DIR"])
def test_a_folder_setting_that_is_a_file_is_an_error(tmp_path, name):
    f = tmp_path / "a-file"
    f.write_text("x")
    with pytest.raises(LabError, match=f"{name}=.* is a file, not a folder"):
        load_settings({name: str(f)})


def test_relative_and_home_output_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_settings({"LAB_OUTPUT_DIR": "mine"}).output_dir == REPO_ROOT / "mine"
    assert load_settings({"LAB_OUTPUT_DIR": "~/lab"}).output_dir == tmp_path.resolve() / "lab"


def test_outputs_and_data_must_be_two_folders(tmp_path):
    with pytest.raises(LabError, match="same folder"):
        load_settings({"LAB_DATA_DIR": str(tmp_path), "LAB_OUTPUT_DIR": str(tmp_path)})


def test_summary_names_every_setting(tmp_path):
    s = load_settings({"LAB_DATASET": "synthetic", "LAB_PROFILE": "smoke",
                       "LAB_DATA_DIR": str(tmp_path / "d"), "LAB_OUTPUT_DIR": str(tmp_path / "o")})
    lines = s.summary().splitlines()
    assert [line.split("=")[0] for line in lines] == ["LAB_DATASET", "LAB_PROFILE", "LAB_DEVICE",
                                                     "LAB_DATA_DIR", "LAB_OUTPUT_DIR"]
    for part in ("LAB_DATASET=synthetic", "LAB_PROFILE=smoke", "LAB_DEVICE=auto",
                 f"LAB_DATA_DIR={tmp_path.resolve() / 'd'}", f"LAB_OUTPUT_DIR={tmp_path.resolve() / 'o'}",
                 "batch 16"):
        assert part in s.summary()


def test_profiles_grow_from_smoke_to_full():
    smoke, quick = PROFILES["smoke"], PROFILES["quick"]
    assert smoke.train_size < quick.train_size
    assert smoke.test_size <= quick.test_size
    assert PROFILES["full"].train_size is None


def test_checkpoints_and_run_logs_go_to_the_output_dir_not_the_data(tmp_path):
    s = load_settings({"LAB_DATA_DIR": str(tmp_path / "shared"), "LAB_OUTPUT_DIR": str(tmp_path / "me")})
    for folder in (s.checkpoint_dir, s.runs_dir):
        assert folder.parent == tmp_path.resolve() / "me"
        assert not folder.is_relative_to(s.data_dir)


def test_the_same_folder_written_two_ways_is_still_the_same_folder(tmp_path):
    x = tmp_path / "x"
    x.mkdir()
    detour = tmp_path / "x" / ".." / "x"
    with pytest.raises(LabError, match="same folder"):
        load_settings({"LAB_DATA_DIR": str(detour), "LAB_OUTPUT_DIR": str(x)})
    link = tmp_path / "link"
    link.symlink_to(x, target_is_directory=True)
    with pytest.raises(LabError, match="same folder"):
        load_settings({"LAB_DATA_DIR": str(link), "LAB_OUTPUT_DIR": str(x)})
    assert load_settings({"LAB_DATA_DIR": str(detour)}).data_dir == x.resolve()


@pytest.mark.parametrize("inside", ["output in data", "data in output"])
def test_an_output_folder_inside_the_data_folder_or_the_reverse_is_refused(tmp_path, inside):
    outer, inner = tmp_path / "outer", tmp_path / "outer" / "cifar-10-synthetic-batches-py"
    env = ({"LAB_DATA_DIR": str(outer), "LAB_OUTPUT_DIR": str(inner)} if inside == "output in data"
           else {"LAB_DATA_DIR": str(inner), "LAB_OUTPUT_DIR": str(outer)})
    with pytest.raises(LabError, match=f"nested: {inner.resolve()} is inside {outer.resolve()}"):
        load_settings(env)
    # Side by side is fine, also when one name starts with the other's.
    assert load_settings({"LAB_DATA_DIR": str(tmp_path / "data"),
                          "LAB_OUTPUT_DIR": str(tmp_path / "data-outputs")}).output_dir.name == "data-outputs"


def test_a_lab_error_is_one_line_in_a_notebook():
    """IPython prints what _render_traceback_ returns instead of the traceback."""
    try:
        load_settings({"LAB_PROFILE": "fast"})
    except LabError as e:
        lines = e._render_traceback_()
    assert len(lines) == 1 and lines[0].startswith("LabError: LAB_PROFILE='fast' is not a known value")


def test_outside_a_checkout_the_folders_must_be_given(tmp_path, monkeypatch):
    """Installed without -e, REPO_ROOT would point into site-packages: no silent data/ there."""
    import labkit.settings as settings_module
    monkeypatch.setattr(settings_module, "REPO_ROOT", tmp_path / "site-packages")
    with pytest.raises(LabError, match="not running from the workshop's checkout.*LAB_DATA_DIR"):
        load_settings({})
    given = load_settings({"LAB_DATA_DIR": str(tmp_path / "d"), "LAB_OUTPUT_DIR": str(tmp_path / "o")})
    assert given.data_dir == (tmp_path / "d").resolve()
