"""Recording the commands Kbuild saved for a module (the run itself is tested with a kernel)."""

from __future__ import annotations

from pathlib import Path

from umlharness.kbuild_replay import PLACEHOLDER, Recipe


def saved(directory: Path, target: str, command: str, prefix: str = "cmd_") -> None:
    (directory / f".{Path(target).name}.cmd").write_text(
        f"{prefix}{directory / target} := {command}\n\nsource_x := y\n"
    )


def test_commands_come_in_build_order_with_the_sources_as_a_placeholder(tmp_path: Path) -> None:
    module = tmp_path / "src" / "drv"
    module.mkdir(parents=True)
    saved(module, "drv.ko", f"ld -r -o {module}/drv.ko {module}/drv.o {module}/drv.mod.o")
    saved(module, "drv.mod.o", f"gcc -c -o {module}/drv.mod.o {module}/drv.mod.c")
    saved(module, "Module.symvers", f"sed 's/ko$$/o/' {module}/modules.order | modpost")
    saved(module, "drv.o", f"ld -r -o {module}/drv.o {module}/a.o {module}/b.o")
    saved(module, "b.o", f"gcc -c -o {module}/b.o {module}/b.c", prefix="savedcmd_")
    saved(module, "a.o", f"gcc -c -o {module}/a.o {module}/a.c")
    saved(module, "drv.mod", f"printf x > {module}/drv.mod")
    recipe = Recipe.record(module, tmp_path / "src")
    assert recipe is not None
    first_words = [
        c.split(" -o ")[-1].split()[0] if " -o " in c else c[:6] for c in recipe.commands
    ]
    assert first_words == [
        f"{PLACEHOLDER}/drv/a.o",
        f"{PLACEHOLDER}/drv/b.o",
        f"{PLACEHOLDER}/drv/drv.o",
        "printf",
        "sed 's",
        f"{PLACEHOLDER}/drv/drv.mod.o",
        f"{PLACEHOLDER}/drv/drv.ko",
    ]
    assert "s/ko$/o/" in recipe.commands[4]  # make's $$ is the shell's $
    assert recipe.for_sources(Path("/new"))[0] == "gcc -c -o /new/drv/a.o /new/drv/a.c"


def test_a_command_it_does_not_know_means_no_recipe(tmp_path: Path) -> None:
    saved(tmp_path, "drv.ko", "ld -r -o drv.ko drv.o")
    saved(tmp_path, "firmware.bin", "objcopy firmware")
    assert Recipe.record(tmp_path, tmp_path) is None


def test_a_recipe_survives_a_round_trip_and_a_damaged_file_is_none(tmp_path: Path) -> None:
    recipe = Recipe(("gcc -c a.c", "ld -o a.ko a.o"))
    recipe.save(tmp_path / "recipes" / "k.json")
    assert Recipe.load(tmp_path / "recipes" / "k.json") == recipe
    (tmp_path / "bad.json").write_text("{")
    assert Recipe.load(tmp_path / "bad.json") is None
    assert Recipe.load(tmp_path / "missing.json") is None
