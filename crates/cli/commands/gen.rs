use crate::args::GenCommand;
pub fn run(_cmd: &GenCommand) -> anyhow::Result<()> {
    anyhow::bail!("WIP")
}
