//! Adapter selection, honouring `WGPU_BACKEND`, `WGPU_ADAPTER_NAME` and `WGPU_POWER_PREF`.

use crate::error::{Error, Result};

/// Picks an adapter, honouring `WGPU_BACKEND`, `WGPU_ADAPTER_NAME` and `WGPU_POWER_PREF`.
/// Never panics: no adapter (or no match for `WGPU_ADAPTER_NAME`) is [`Error::NoAdapter`].
pub fn select_adapter() -> Result<wgpu::Adapter> {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    pollster::block_on(async {
        if let Ok(name) = std::env::var("WGPU_ADAPTER_NAME") {
            let want = name.to_lowercase();
            let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all());
            let adapters = instance.enumerate_adapters(backends).await;
            let names: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
            return adapters
                .into_iter()
                .find(|a| a.get_info().name.to_lowercase().contains(&want))
                .ok_or_else(|| {
                    Error::NoAdapter(format!(
                        "WGPU_ADAPTER_NAME={name} matches none of the adapters found: {names:?}"
                    ))
                });
        }
        instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::from_env().unwrap_or_default(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::NoAdapter(e.to_string()))
    })
}

/// A short description of an adapter: name, backend and device type.
pub fn describe(info: &wgpu::AdapterInfo) -> String {
    format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type)
}
