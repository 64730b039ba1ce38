use crate::args::DemoArgs;
pub fn run(_args: &DemoArgs) -> anyhow::Result<()> {
    anyhow::bail!("WIP")
}
