"""The `gridmap` command line. Commands parse options, call services and print; no logic here.

Every command is registered here, in one place. The command modules import only `.context`
(never this module), so there is no import cycle; heavy libraries load inside the commands.
"""

from __future__ import annotations

import click

from . import analysis, core, incidents, places, plan_blocks, plans, printing, users
from .context import Context, choose_locale


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="GRIDMAP_DB", help="Store: SQLite file path or postgresql:// URL [default: gridmap.db].")
@click.option("--config", type=click.Path(dir_okay=False), help="Settings file [default: gridmap.toml if present].")
@click.version_option(package_name="gridmap")
@click.pass_context
def main(ctx: click.Context, db: str | None, config: str | None) -> None:
    """gridmap: grids, staff and incidents for grid governance (网格化管理)."""
    ctx.obj = Context(db, config)
    choose_locale(config)


COMMANDS = [
    # the registry: store, units, staff, files
    core.init, core.info, core.import_, core.import_staff, core.export, core.check, core.locate, core.assign,
    core.demo, core.serve,
    incidents.incidents,  # incidents import|list|metrics|supervise|...
    users.users,  # users add|token|list|disable|enable|passwd|revoke-token
    places.places,  # the gazetteer
    plans.plan,  # versioned grid plans (plan_blocks adds blocks-export|blocks-import|lock|compare to it)
    analysis.balance, analysis.propose, analysis.networks,  # planner analysis
    printing.print_,  # patrol maps
]
assert plan_blocks.plan is plans.plan  # its commands hang on the plan group
for _command in COMMANDS:
    main.add_command(_command)

__all__ = ["COMMANDS", "Context", "main"]
